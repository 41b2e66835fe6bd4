.PHONY: run test bench

# Serve the app on the embedded default (SQLite + in-process bus): http://localhost:8000
run:
	bash scripts/run.sh

# Install everything and run the whole test suite.
test:
	bash scripts/test.sh

# Benchmarks against a real server process; prints a table and JSON.
bench:
	bash scripts/bench.sh
