"""wpprivsync: make a site's privacy policy true in WordPress, WooCommerce and ActiveCampaign."""

__version__ = "0.1.0"
