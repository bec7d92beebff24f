"""Reports: orders, sales, rates, buyers and gross profit per period (day, week, month in the
console's time zone) and dimension (channel, shop, SKU, province), summed from daily rollups (and
``orders`` for the days not rolled up yet); and the cost prices gross profit needs.

One job per module: ``periods`` (ranges, buckets, the bucketing SQL), ``dimensions`` (the keys),
``figures`` (what counts, the row), ``rollups`` (a day's rollup rows as SQL over ``orders``),
``refresh`` (keeping the rollups), ``sources`` (rollups or ``orders``, per day), ``queries`` (sales
sums), ``profit`` (freight), ``buyers`` (new, repeat, tiers), ``costs`` (cost prices), ``report``
(the entry points).


Imported by ``hub.config`` (for ``settings``): import the modules themselves, nothing here.
"""
