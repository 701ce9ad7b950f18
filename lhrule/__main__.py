"""`python -m lhrule …`, and the file `spark-submit` runs: `spark-submit [options] PATH/lhrule/__main__.py score …`."""

from lhrule.cli.main import main

main()
