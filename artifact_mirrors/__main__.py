"""`python -m artifact_mirrors` == `mirrors`."""

from artifact_mirrors.cli import main

main()
