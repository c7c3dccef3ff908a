"""Forecast benchmark on carparts: 2,674 monthly car-part sales series (Monash .tsf),
the last 12 months held out.

    python bench/carparts.py [--methods zero seasonal_naive ... sparecast]
"""

from harness import main

if __name__ == "__main__":
    main("carparts")
