from healthdex.cli import main

main()
