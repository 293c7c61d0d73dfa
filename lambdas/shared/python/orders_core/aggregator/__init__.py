"""The aggregator's logic (orders-aggregator): table streams -> totals + alerts."""
