from ipnsim.cli import main

main()
