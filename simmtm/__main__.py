import sys

from simmtm.cli import main

sys.exit(main())
