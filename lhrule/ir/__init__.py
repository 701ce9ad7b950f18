"""The frozen IR a rulebook compiles to (`model.py`), and what it means: which version of every
declaration is in force on a day (`plan.py`), shop-level expressions evaluated exactly
(`evaluate.py`), and the time zones' offsets (`zones.py`). Every later stage reads it; it reads
nothing but `lhrule.diagnostics`."""
