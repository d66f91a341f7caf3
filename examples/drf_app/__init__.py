"""An invoices service protected by tokenward (Django REST framework); see ../README.md."""
