from setuptools import Extension, setup

setup(ext_modules=[Extension("piwdemo_fastsum._fastsum", ["piwdemo_fastsum/_fastsum.c"])])
