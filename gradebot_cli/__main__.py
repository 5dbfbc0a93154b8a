from gradebot_cli.cli.main import main

main()
