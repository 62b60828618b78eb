<?php
/**
 * Names shared by every class (option keys, the REST namespace, the capability) and the wiring.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Constants and bootstrap.
 */
class Wpprivsync_Plugin {

	const REST_NAMESPACE = 'wpprivsync/v1';
	const CAPABILITY     = 'wpprivsync_sync';
	const ROLE           = 'wpprivsync_daemon';
	const TEXT_DOMAIN    = 'wpprivsync';

	const OPTION_DB_VERSION     = 'wpprivsync_db_version';
	const OPTION_WEBHOOK_SECRET = 'wpprivsync_webhook_secret';
	const OPTION_HASH_KEY       = 'wpprivsync_hash_key';
	const OPTION_HEARTBEAT      = 'wpprivsync_heartbeat';
	const OPTION_RETENTION      = 'wpprivsync_retention';
	const OPTION_WEBHOOK_WINDOW = 'wpprivsync_webhook_window';
	const OPTION_OUTBOX_DAYS    = 'wpprivsync_outbox_retention_days';
	const OPTION_OUTBOX_PURGED  = 'wpprivsync_outbox_purged_at';

	const CONSENT_META = 'wpprivsync_newsletter';

	/**
	 * Every option the plugin owns (uninstall removes them).
	 *
	 * @return string[]
	 */
	public static function options() {
		return array(
			self::OPTION_DB_VERSION,
			self::OPTION_WEBHOOK_SECRET,
			self::OPTION_HASH_KEY,
			self::OPTION_HEARTBEAT,
			self::OPTION_RETENTION,
			self::OPTION_WEBHOOK_WINDOW,
			self::OPTION_OUTBOX_DAYS,
			self::OPTION_OUTBOX_PURGED,
		);
	}

	/**
	 * Hooks every concern in.
	 */
	public static function boot() {
		add_action( 'plugins_loaded', array( 'Wpprivsync_Installer', 'maybe_upgrade' ) );
		add_action( 'before_woocommerce_init', array( __CLASS__, 'declare_woocommerce_compatibility' ) );
		add_action( 'init', array( __CLASS__, 'load_textdomain' ) );
		Wpprivsync_Hooks::register();
		Wpprivsync_Consent::register();
		Wpprivsync_Retention::register();
		Wpprivsync_Privacy::register();
		Wpprivsync_Thrive::register();
		Wpprivsync_Core_Erasure::register();
		Wpprivsync_Core_Exporter::register();
		Wpprivsync_Residue_Scan::register();
		Wpprivsync_Woocommerce_Customers::register();
		add_action( 'rest_api_init', array( 'Wpprivsync_Rest', 'register_routes' ) );
		add_action( 'rest_api_init', array( 'Wpprivsync_Webhook', 'register_routes' ) );
		add_action( 'rest_api_init', array( 'Wpprivsync_Requests_Mirror', 'register_routes' ) );
		add_action( 'rest_api_init', array( 'Wpprivsync_Admin_Person', 'register_routes' ) );
		if ( is_admin() ) {
			Wpprivsync_Policy_Text::register();
			Wpprivsync_Admin::register();
		}
	}

	/**
	 * Tells WooCommerce the plugin works with High-Performance Order Storage.
	 */
	public static function declare_woocommerce_compatibility() {
		if ( class_exists( '\Automattic\WooCommerce\Utilities\FeaturesUtil' ) ) {
			// Orders are read and changed through wc_get_orders() and WC_Order only.
			\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', WPPRIVSYNC_FILE, true );
		}
	}

	/**
	 * Loads translations.
	 */
	public static function load_textdomain() {
		load_plugin_textdomain( self::TEXT_DOMAIN, false, dirname( plugin_basename( WPPRIVSYNC_FILE ) ) . '/languages' );
	}

	/**
	 * Normalises an email by the rule the daemon follows too (docs/IDENTITY.md): trim ASCII
	 * whitespace, lower-case ASCII letters only (no Unicode folding, no IDN conversion).
	 *
	 * @param string $email Email.
	 * @return string
	 */
	public static function normalise_email( $email ) {
		return strtr( trim( (string) $email, " \t\n\r\0\x0B" ), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz' );
	}

	/**
	 * The plugin's own keyed hash of an email (HMAC-SHA256, hex).
	 *
	 * @param string $email Email.
	 * @return string
	 */
	public static function email_hash( $email ) {
		return self::keyed_hash( self::normalise_email( $email ) );
	}

	/**
	 * The plugin's keyed hash (HMAC-SHA256, hex) of any text, as it is.
	 *
	 * @param string $text Text.
	 * @return string
	 */
	public static function keyed_hash( $text ) {
		$key = get_option( self::OPTION_HASH_KEY );
		if ( ! is_string( $key ) || '' === $key ) {
			$key = Wpprivsync_Installer::random_secret( 64 );
			update_option( self::OPTION_HASH_KEY, $key, false );
		}
		return hash_hmac( 'sha256', (string) $text, $key );
	}

	/**
	 * Whether WooCommerce is active.
	 *
	 * @return bool
	 */
	public static function woocommerce_active() {
		return class_exists( 'WooCommerce' ) && function_exists( 'wc_get_orders' );
	}
}
