# Convenience targets; the scripts in tools/ are the source of truth (they need only bash).
.PHONY: demo test setup
demo:
	bash tools/demo.sh
test:
	bash tools/test.sh
setup:
	bash tools/setup.sh
