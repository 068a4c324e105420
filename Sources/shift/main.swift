import ShiftCLI

await ShiftCommandLine.main()
