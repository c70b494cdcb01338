from complaintctl.cli.start import main

main()
