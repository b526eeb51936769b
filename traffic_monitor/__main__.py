import sys

from traffic_monitor.cli import main

sys.exit(main())
