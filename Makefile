# Thin aliases for ./dev, which installs what each task needs.
.PHONY: check test demo bench
check:
	./dev check
test:
	./dev test
demo:
	./dev demo
bench:
	./dev bench
