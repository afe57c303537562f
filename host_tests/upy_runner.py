# Runs the shared unit tests (host_tests/unit/test_*.py) under the `micropython` binary, which has
# no pytest: import each module, call each test_* function, count. Exit status 1 on any failure.
import os
import sys

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
if HERE[0] != "/":  # absolute: tests change folders, and the firmware imports some modules late
    HERE = os.getcwd() + "/" + HERE
ROOT = HERE + "/.."
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE + "/unit")

only = sys.argv[1:]  # optional module names to run
home = os.getcwd()  # tests that work in a scratch folder must not move the import paths
passed = failed = 0
for filename in sorted(os.listdir(HERE + "/unit")):
    if not (filename.startswith("test_") and filename.endswith(".py")):
        continue
    name = filename[:-3]
    if only and name not in only:
        continue
    module = __import__(name)
    for attr in sorted(dir(module)):
        if not attr.startswith("test_"):
            continue
        try:
            getattr(module, attr)()
            passed += 1
        except Exception as e:
            failed += 1
            print("FAIL %s.%s" % (name, attr))
            sys.print_exception(e)
        os.chdir(home)
print("micropython: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
