"""Forecast benchmark on MAN: 3,451 manufacturer spare parts, 150 weeks of demand, the last
12 weeks held out (season 52).

    python bench/man.py [--methods zero seasonal_naive ... sparecast]
"""

from harness import main

if __name__ == "__main__":
    main("man")
