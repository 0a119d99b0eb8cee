"""`python app.py` = `crosscheck serve`: the browser chat, same options (--sources, --index, --host, --port)."""

from assistant.shells.cli import serve

if __name__ == "__main__":
    serve.main(prog_name="python app.py")
