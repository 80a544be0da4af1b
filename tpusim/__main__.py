from tpusim.cli import main

main()
