"""Services: the only code that changes data. Each validates, changes, audits and flushes; callers commit."""
