"""AliExpress channel plugin: IOP and TOP-style gateways, TMC order events, stock, fulfilment, issues."""
