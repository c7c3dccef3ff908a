"""Forecast benchmark on OIL: 7,024 refinery spare parts, monthly December 1997 to August 2001
(November 1997 and before left out), the last 12 months held out.

    python bench/oil.py [--methods zero seasonal_naive ... sparecast]
"""

from harness import main

if __name__ == "__main__":
    main("oil")
