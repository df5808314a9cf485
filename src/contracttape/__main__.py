from contracttape.cli import main

main()
