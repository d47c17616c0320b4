import sys

sys.exit("piwdemo-broken: this package fails to build on purpose, so the farm shows a failed build and its log")
