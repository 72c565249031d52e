from bench.engine.run import main

raise SystemExit(main())
