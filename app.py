"""`python app.py` = `crosscheck serve`: the browser chat, same options (--sources, --index, --host, --port)."""

from assistant.shells.cli import serve
from assistant.shells.environment import apply_offline_defaults

if __name__ == "__main__":
    apply_offline_defaults()  # as `crosscheck` does first: offline, no telemetry, quiet model loading
    serve.main(prog_name="python app.py")
