import sys

try:
    from .cli import main
except KeyboardInterrupt:  # interrupted while the CLI was still being imported
    sys.exit(130)

main()
