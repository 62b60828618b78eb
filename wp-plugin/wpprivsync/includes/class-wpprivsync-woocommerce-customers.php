<?php
/**
 * WooCommerce's analytics customer record (wc_customer_lookup): a copy of a customer's name,
 * email and address that WooCommerce's own exporter leaves out, and that stays for a guest
 * customer after the erasure of their orders. The residue scan found it; this class exports it
 * and, on erasure, anonymises it (the row stays, emptied, so the site's sales statistics keep
 * counting the orders).
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Exporter and eraser of the customer lookup rows.
 */
class Wpprivsync_Woocommerce_Customers {

	const ID = 'wpprivsync-woocommerce-customer';

	/** Columns exported, with their labels' source text. */
	const FIELDS = array( 'username', 'first_name', 'last_name', 'email', 'date_last_active', 'date_registered', 'country', 'postcode', 'city', 'state' );

	/**
	 * Hooks in.
	 */
	public static function register() {
		add_filter( 'wp_privacy_personal_data_erasers', array( __CLASS__, 'register_eraser' ) );
		add_filter( 'wp_privacy_personal_data_exporters', array( __CLASS__, 'register_exporter' ) );
	}

	/**
	 * The lookup table, or null when WooCommerce has none.
	 *
	 * @return string|null
	 */
	private static function table() {
		global $wpdb;
		static $found = null;
		if ( null === $found ) {
			$name  = $wpdb->prefix . 'wc_customer_lookup';
			$found = $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $wpdb->esc_like( $name ) ) ) === $name ? $name : '';
		}
		return '' === $found ? null : $found;
	}

	/**
	 * Adds the eraser.
	 *
	 * @param array $erasers Erasers.
	 * @return array
	 */
	public static function register_eraser( $erasers ) {
		if ( self::table() ) {
			$erasers[ self::ID ] = array(
				'eraser_friendly_name' => __( 'WooCommerce analytics customer record (Privacy Sync)', 'wpprivsync' ),
				'callback'             => array( __CLASS__, 'erase' ),
			);
		}
		return $erasers;
	}

	/**
	 * Adds the exporter.
	 *
	 * @param array $exporters Exporters.
	 * @return array
	 */
	public static function register_exporter( $exporters ) {
		if ( self::table() ) {
			$exporters[ self::ID ] = array(
				'exporter_friendly_name' => __( 'WooCommerce analytics customer record (Privacy Sync)', 'wpprivsync' ),
				'callback'               => array( __CLASS__, 'export' ),
			);
		}
		return $exporters;
	}

	/**
	 * The person's rows (email in any letter case).
	 *
	 * @param string $email Email.
	 * @return array
	 */
	private static function rows( $email ) {
		global $wpdb;
		$table = self::table();
		if ( ! $table ) {
			return array();
		}
		// The column's collation is case-insensitive, so = matches any letter case and uses the index.
		return (array) $wpdb->get_results( $wpdb->prepare( "SELECT * FROM {$table} WHERE email = %s ORDER BY customer_id LIMIT 500", Wpprivsync_Plugin::normalise_email( $email ) ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery -- the table name is WooCommerce's own.
	}

	/**
	 * The exporter.
	 *
	 * @param string $email Email.
	 * @param int    $page  Page (one page holds every row).
	 * @return array
	 */
	public static function export( $email, $page = 1 ) {
		unset( $page );
		$items = array();
		foreach ( self::rows( $email ) as $row ) {
			$data = array();
			foreach ( self::FIELDS as $field ) {
				if ( isset( $row[ $field ] ) && '' !== (string) $row[ $field ] ) {
					$data[] = array(
						'name'  => $field,
						'value' => (string) $row[ $field ],
					);
				}
			}
			$items[] = array(
				'group_id'          => self::ID,
				'group_label'       => __( 'Store analytics customer record', 'wpprivsync' ),
				'group_description' => __( 'The copy of your customer details WooCommerce keeps for its sales reports.', 'wpprivsync' ),
				'item_id'           => 'customer-' . $row['customer_id'],
				'data'              => $data,
			);
		}
		return array(
			'data' => $items,
			'done' => true,
		);
	}

	/**
	 * The eraser: empties the person's rows (kept for the statistics, without the person).
	 *
	 * @param string $email Email.
	 * @param int    $page  Page.
	 * @return array
	 */
	public static function erase( $email, $page = 1 ) {
		global $wpdb;
		unset( $page );
		$removed = false;
		foreach ( self::rows( $email ) as $row ) {
			$removed = (bool) $wpdb->update( // phpcs:ignore WordPress.DB.DirectDatabaseQuery -- WooCommerce offers no API for this table.
				self::table(),
				array(
					'user_id'    => null,
					'username'   => '',
					'first_name' => '',
					'last_name'  => '',
					'email'      => null,
					'postcode'   => '',
					'city'       => '',
					'state'      => '',
				),
				array( 'customer_id' => (int) $row['customer_id'] )
			) || $removed;
		}
		return array(
			'items_removed'  => $removed,
			'items_retained' => false,
			'messages'       => $removed ? array( __( 'WooCommerce analytics customer record emptied (kept for the sales statistics).', 'wpprivsync' ) ) : array(),
			'done'           => true,
		);
	}
}
