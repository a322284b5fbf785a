"""Services: the rules views, jobs and the gateway share. Views stay thin over these."""
