import ShiftCLI

// The same program as `shift`, under a name no shell reserves (`shift` is a bash/sh/zsh builtin).
await ShiftCommandLine.main()
