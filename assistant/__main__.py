from .shells.cli import main

main()
