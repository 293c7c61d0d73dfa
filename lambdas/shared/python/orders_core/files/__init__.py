"""The file processor's logic (orders-files): S3 file -> transactions + customers."""
