"""Reports: orders, sales, rates, buyers and gross profit per period (day, week, month in the
console's time zone) and dimension (channel, shop, SKU, province), by aggregate SQL over indexed
columns of ``orders``; and the cost prices gross profit needs.

One job per module: ``periods`` (ranges, buckets, the bucketing SQL), ``dimensions`` (row keys),
``figures`` (what counts, the row), ``queries`` (sales SQL), ``profit`` (cost, freight, fees),
``buyers`` (new, repeat, tiers), ``costs`` (cost prices), ``report`` (the entry points).


Imported by ``hub.config`` (for ``settings``): import the modules themselves, nothing here.
"""
