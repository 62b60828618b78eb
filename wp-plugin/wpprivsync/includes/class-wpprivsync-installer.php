<?php
/**
 * Activation, schema upgrades, roles and secrets; uninstall's counterpart.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Creates and removes what the plugin owns.
 */
class Wpprivsync_Installer {

	/** Bump when the table definition changes; dbDelta applies the difference. */
	const DB_VERSION = 3;

	/**
	 * Activation: schema, capability, role, secrets.
	 */
	public static function activate() {
		self::install_schema();
		self::install_roles();
		if ( ! get_option( Wpprivsync_Plugin::OPTION_WEBHOOK_SECRET ) ) {
			update_option( Wpprivsync_Plugin::OPTION_WEBHOOK_SECRET, self::random_secret( 48 ), false );
		}
		if ( ! get_option( Wpprivsync_Plugin::OPTION_HASH_KEY ) ) {
			update_option( Wpprivsync_Plugin::OPTION_HASH_KEY, self::random_secret( 64 ), false );
		}
	}

	/**
	 * Runs on plugins_loaded: upgrades the schema when the stored version is older.
	 */
	public static function maybe_upgrade() {
		if ( (int) get_option( Wpprivsync_Plugin::OPTION_DB_VERSION, 0 ) < self::DB_VERSION ) {
			self::activate();
		}
	}

	/**
	 * Creates or upgrades the outbox table.
	 */
	public static function install_schema() {
		global $wpdb;
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		$table   = Wpprivsync_Outbox::table();
		$charset = $wpdb->get_charset_collate();
		// dbDelta wants two spaces after PRIMARY KEY and one definition per line.
		$sql = "CREATE TABLE {$table} (
  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  type varchar(64) NOT NULL,
  payload longtext NOT NULL,
  dedupe_key varchar(191) DEFAULT NULL,
  created_at datetime NOT NULL,
  acked_at datetime DEFAULT NULL,
  PRIMARY KEY  (id),
  UNIQUE KEY dedupe_key (dedupe_key),
  KEY acked_id (acked_at,id)
) {$charset};";
		dbDelta( $sql );
		dbDelta( Wpprivsync_Requests_Mirror::schema_sql( $charset ) );
		self::hash_dedupe_keys();
		update_option( Wpprivsync_Plugin::OPTION_DB_VERSION, self::DB_VERSION );
	}

	/**
	 * Version 3: dedupe keys written before are replaced by their keyed hash (a key may hold
	 * an email); a key whose hash is already there is dropped (its event stays).
	 */
	private static function hash_dedupe_keys() {
		global $wpdb;
		$table = Wpprivsync_Outbox::table();
		do {
			$rows = $wpdb->get_results( "SELECT id, dedupe_key FROM {$table} WHERE dedupe_key IS NOT NULL AND dedupe_key NOT LIKE 'k:%' LIMIT 1000", ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery -- the plugin's own table, once per upgrade.
			foreach ( (array) $rows as $row ) {
				$hashed = Wpprivsync_Outbox::stored_key( $row['dedupe_key'] );
				$taken  = $wpdb->get_var( $wpdb->prepare( "SELECT id FROM {$table} WHERE dedupe_key = %s", $hashed ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery -- as above.
				$wpdb->update( $table, array( 'dedupe_key' => $taken ? null : $hashed ), array( 'id' => (int) $row['id'] ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery -- as above.
			}
			$more = 1000 === count( (array) $rows );
		} while ( $more );
	}

	/**
	 * Grants the capability to administrators and creates the daemon's role.
	 */
	public static function install_roles() {
		$admin = get_role( 'administrator' );
		if ( $admin ) {
			$admin->add_cap( Wpprivsync_Plugin::CAPABILITY );
		}
		if ( ! get_role( Wpprivsync_Plugin::ROLE ) ) {
			add_role(
				Wpprivsync_Plugin::ROLE,
				'wpprivsync daemon',
				array(
					'read'                        => true,
					Wpprivsync_Plugin::CAPABILITY => true,
				)
			);
		}
	}

	/**
	 * Removes the table, options, role and capability (uninstall.php).
	 */
	public static function uninstall() {
		global $wpdb;
		$table = Wpprivsync_Outbox::table();
		$wpdb->query( "DROP TABLE IF EXISTS {$table}" ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$mirror = Wpprivsync_Requests_Mirror::table();
		$wpdb->query( "DROP TABLE IF EXISTS {$mirror}" ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		foreach ( Wpprivsync_Plugin::options() as $option ) {
			delete_option( $option );
		}
		remove_role( Wpprivsync_Plugin::ROLE );
		foreach ( wp_roles()->role_objects as $role ) {
			if ( $role->has_cap( Wpprivsync_Plugin::CAPABILITY ) ) {
				$role->remove_cap( Wpprivsync_Plugin::CAPABILITY );
			}
		}
		// Export archives are personal data: none may outlive the plugin.
		Wpprivsync_Exports::delete_all();
		// The newsletter consent user meta is the people's own record, not configuration: it stays.
	}

	/**
	 * A url-safe random string (A-Z a-z 0-9 - _) of the given length.
	 *
	 * @param int $length Characters.
	 * @return string
	 */
	public static function random_secret( $length ) {
		$alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
		$out      = '';
		for ( $i = 0; $i < $length; $i++ ) {
			$out .= $alphabet[ random_int( 0, 63 ) ];
		}
		return $out;
	}
}
