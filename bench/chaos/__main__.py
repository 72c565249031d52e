"""`python -m bench.chaos`: the fault-injection run; exits 1 when a promise is broken."""

import sys

from bench.chaos.run import main

sys.exit(main())
