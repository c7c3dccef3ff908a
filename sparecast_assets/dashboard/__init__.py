"""The planners' web dashboard (``sparecast dashboard``), reading only the analytics schema."""
