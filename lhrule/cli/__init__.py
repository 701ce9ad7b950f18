"""The `lhrule` command (Typer + Rich): `app.py` (the app and what every command shares) and
`options.py` (the dataset options) below one module per group of commands; `main.py` registers them.
No module outside it imports it."""
