"""``python -m sheetlog``: the command line."""

from .cli import main

main(prog_name="sheetlog")
