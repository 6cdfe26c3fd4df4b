from pcapkit.cli import main

main()
