"""python -m local_cloud ..."""

import sys

from local_cloud.cli import main

if __name__ == "__main__":
    sys.exit(main())
