"""Reports: orders, sales, rates, buyers and gross profit per period and dimension, by SQL over indexed
columns and rollups.
"""
