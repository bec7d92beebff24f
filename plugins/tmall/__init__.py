"""Tmall channel plugin: Taobao's TOP connector plus Tmall stock, exchanges and service work cards."""
