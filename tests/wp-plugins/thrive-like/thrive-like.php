<?php
/**
 * Plugin Name: thrive-like (wpprivsync tests only)
 * Description: Stores personal data the way Thrive Ovation (testimonials) and Thrive Leads (contacts table) do, and registers erasers and exporters shaped like theirs. Never install on a real site.
 * Version:     1.0.0
 * License:     GPL-2.0-or-later
 *
 * @package wpprivsync-tests
 */

defined( 'ABSPATH' ) || exit;

/**
 * Ovation-like testimonials and Leads-like contacts.
 */
class Thrive_Like_Fixture {

	const POST_TYPE = 'tvo_testimonials';
	const META      = '_tvo_testimonial_attributes';

	/**
	 * The contacts table.
	 *
	 * @return string
	 */
	public static function leads_table() {
		global $wpdb;
		return $wpdb->prefix . 'tve_leads_contacts';
	}

	/**
	 * Hooks.
	 */
	public static function boot() {
		add_action( 'init', array( __CLASS__, 'register_post_type' ) );
		add_action( 'plugins_loaded', array( __CLASS__, 'install' ) );
		add_filter( 'wp_privacy_personal_data_erasers', array( __CLASS__, 'erasers' ) );
		add_filter( 'wp_privacy_personal_data_exporters', array( __CLASS__, 'exporters' ) );
	}

	/**
	 * The testimonial post type.
	 */
	public static function register_post_type() {
		register_post_type( self::POST_TYPE, array( 'public' => false, 'label' => 'Testimonials' ) );
	}

	/**
	 * Creates the contacts table when missing.
	 */
	public static function install() {
		global $wpdb;
		$table = self::leads_table();
		if ( get_option( 'thrive_like_db' ) === '1' ) {
			return;
		}
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		dbDelta(
			"CREATE TABLE {$table} (
  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  log_id bigint(20) unsigned DEFAULT NULL,
  name varchar(255) DEFAULT NULL,
  email varchar(255) NOT NULL,
  date datetime NOT NULL,
  custom_fields longtext,
  PRIMARY KEY  (id),
  KEY email (email)
) {$wpdb->get_charset_collate()};"
		);
		update_option( 'thrive_like_db', '1' );
	}

	/**
	 * Test helper: a testimonial by this email.
	 *
	 * @param string $email Email.
	 * @param string $name  Name.
	 * @return int Post id.
	 */
	public static function add_testimonial( $email, $name ) {
		$id = wp_insert_post(
			array(
				'post_type'    => self::POST_TYPE,
				'post_status'  => 'publish',
				'post_title'   => $name,
				'post_content' => 'Great course, ' . $name . ' says.',
			)
		);
		update_post_meta( $id, self::META, array( 'name' => $name, 'email' => $email, 'role' => 'Student', 'website_url' => '' ) );
		return (int) $id;
	}

	/**
	 * Test helper: a lead contact.
	 *
	 * @param string $email Email.
	 * @param string $name  Name.
	 * @return int Row id.
	 */
	public static function add_lead( $email, $name ) {
		global $wpdb;
		$wpdb->insert(
			self::leads_table(),
			array(
				'log_id'        => 1,
				'name'          => $name,
				'email'         => $email,
				'date'          => gmdate( 'Y-m-d H:i:s' ),
				'custom_fields' => wp_json_encode( array( 'phone' => '555-0100' ) ),
			)
		);
		return (int) $wpdb->insert_id;
	}

	/**
	 * Testimonial ids by email (meta is serialised, so match in PHP).
	 *
	 * @param string $email Email.
	 * @return int[]
	 */
	public static function testimonial_ids( $email ) {
		$ids = get_posts( array( 'post_type' => self::POST_TYPE, 'post_status' => 'any', 'numberposts' => -1, 'fields' => 'ids' ) );
		$out = array();
		foreach ( $ids as $id ) {
			$attrs = get_post_meta( $id, self::META, true );
			if ( is_array( $attrs ) && isset( $attrs['email'] ) && strtolower( $attrs['email'] ) === strtolower( $email ) ) {
				$out[] = (int) $id;
			}
		}
		return $out;
	}

	/**
	 * Lead rows by email.
	 *
	 * @param string $email Email.
	 * @return array[]
	 */
	public static function leads( $email ) {
		global $wpdb;
		$table = self::leads_table();
		return $wpdb->get_results( $wpdb->prepare( "SELECT * FROM {$table} WHERE email = %s ORDER BY id", $email ), ARRAY_A );
	}

	/**
	 * Registers the erasers.
	 *
	 * @param array $erasers Erasers.
	 * @return array
	 */
	public static function erasers( $erasers ) {
		$erasers['thrive-ovation'] = array( 'eraser_friendly_name' => 'Thrive Ovation', 'callback' => array( __CLASS__, 'erase_testimonials' ) );
		$erasers['thrive-leads']   = array( 'eraser_friendly_name' => 'Thrive Leads', 'callback' => array( __CLASS__, 'erase_leads' ) );
		return $erasers;
	}

	/**
	 * Registers the exporters.
	 *
	 * @param array $exporters Exporters.
	 * @return array
	 */
	public static function exporters( $exporters ) {
		$exporters['thrive-ovation'] = array( 'exporter_friendly_name' => 'Thrive Ovation', 'callback' => array( __CLASS__, 'export_testimonials' ) );
		$exporters['thrive-leads']   = array( 'exporter_friendly_name' => 'Thrive Leads', 'callback' => array( __CLASS__, 'export_leads' ) );
		return $exporters;
	}

	/**
	 * Deletes testimonials, two per page (so paging is exercised).
	 *
	 * @param string $email Email.
	 * @param int    $page  Page.
	 * @return array
	 */
	public static function erase_testimonials( $email, $page = 1 ) {
		$ids     = array_slice( self::testimonial_ids( $email ), 0, 2 );
		$removed = false;
		foreach ( $ids as $id ) {
			$removed = (bool) wp_delete_post( $id, true ) || $removed;
		}
		return array(
			'items_removed'  => $removed,
			'items_retained' => false,
			'messages'       => array(),
			'done'           => count( self::testimonial_ids( $email ) ) === 0,
		);
	}

	/**
	 * Deletes lead contacts.
	 *
	 * @param string $email Email.
	 * @param int    $page  Page.
	 * @return array
	 */
	public static function erase_leads( $email, $page = 1 ) {
		global $wpdb;
		$n = (int) $wpdb->delete( self::leads_table(), array( 'email' => $email ) );
		return array(
			'items_removed'  => $n > 0,
			'items_retained' => false,
			'messages'       => array(),
			'done'           => true,
		);
	}

	/**
	 * Exports testimonials, one per page.
	 *
	 * @param string $email Email.
	 * @param int    $page  Page.
	 * @return array
	 */
	public static function export_testimonials( $email, $page = 1 ) {
		$ids  = self::testimonial_ids( $email );
		$id   = $ids[ $page - 1 ] ?? null;
		$data = array();
		if ( $id ) {
			$attrs  = get_post_meta( $id, self::META, true );
			$data[] = array(
				'group_id'    => 'tvo-testimonials',
				'group_label' => 'Testimonials',
				'item_id'     => 'testimonial-' . $id,
				'data'        => array(
					array( 'name' => 'Name', 'value' => $attrs['name'] ),
					array( 'name' => 'Email', 'value' => $attrs['email'] ),
					array( 'name' => 'Testimonial', 'value' => get_post_field( 'post_content', $id ) ),
				),
			);
		}
		return array( 'data' => $data, 'done' => $page >= count( $ids ) );
	}

	/**
	 * Exports lead contacts.
	 *
	 * @param string $email Email.
	 * @param int    $page  Page.
	 * @return array
	 */
	public static function export_leads( $email, $page = 1 ) {
		$data = array();
		foreach ( self::leads( $email ) as $row ) {
			$data[] = array(
				'group_id'    => 'tve-leads-contacts',
				'group_label' => 'Thrive Leads contacts',
				'item_id'     => 'lead-' . $row['id'],
				'data'        => array(
					array( 'name' => 'Name', 'value' => $row['name'] ),
					array( 'name' => 'Email', 'value' => $row['email'] ),
					array( 'name' => 'Date', 'value' => $row['date'] ),
					array( 'name' => 'Custom fields', 'value' => $row['custom_fields'] ),
				),
			);
		}
		return array( 'data' => $data, 'done' => true );
	}
}

Thrive_Like_Fixture::boot();
