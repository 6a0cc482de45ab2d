"""`python -m mailgate`: the same command line as the `mailgate` script (`mailgate.cli`)."""

from mailgate.cli import main

main()
