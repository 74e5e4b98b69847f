from mlops_levels.cli import main

raise SystemExit(main())
