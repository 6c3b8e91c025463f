"""``python -m api.cli``."""

from api.cli import main

if __name__ == "__main__":
    main()
