"""`lhrule gen`: synthetic event data in the standard schema. `model.py` draws one block of shops
with numpy, `gen.py` plans the work and writes the tables, deterministically from a seed."""
