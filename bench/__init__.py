"""The benchmark suite (``make bench``, ``python -m bench``).

It seeds the demo company at each size in its own database and takes the figures the
issues ask for, each the median of several runs beside a baseline measured in the same
run: seeding, the organisation import, the most-opened pages (``bench/pages.py``: a
page is one entry in ``PAGES``), the PDF packet and batches of packets, the cycle launch
and the deadline reminders. ``bench/run.py`` lists the measurements; the figures go to
``bench/results.json`` and a table on stdout. ``tests/test_bench_smoke.py`` runs the same
code at a tiny size so that it cannot rot.
"""
