from torchfacts.cli import main

raise SystemExit(main())
