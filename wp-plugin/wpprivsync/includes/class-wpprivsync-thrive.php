<?php
/**
 * Completes the Thrive plugins' own erasers and exporters: the places where Thrive Comments,
 * Leads, Ovation and the bundled Thrive Dashboard keep a person's data that their own privacy
 * tools miss (see the project's docs/ERASURE.md), matched by email in any letter case.
 *
 * What happens to each location on erasure:
 *   Thrive Dashboard API error log (failed sign-ups)   rows deleted
 *   Thrive Comments activity log (tcm_logs)            rows deleted
 *   Thrive Comments email hashes (tcm_email_hash)      rows deleted
 *   Thrive Comments post subscriptions (postmeta)      the person removed, the list kept for others
 *   Thrive Comments comment meta (picture, flag)       deleted from the person's comments
 *   Thrive Ovation testimonials, every status           deleted with their meta and local picture
 *   Thrive Ovation activity log                        rows deleted
 *   Thrive Leads contacts (also those with no log_id)  rows deleted
 *   Thrive Leads event log                             anonymised (user, IP, referrer emptied): the
 *                                                      rows are the site's conversion statistics
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * The Thrive completion eraser and exporter.
 */
class Wpprivsync_Thrive {

	const ERASER_ID   = 'wpprivsync-thrive';
	const EXPORTER_ID = 'wpprivsync-thrive';
	/** Rows handled per location and page. */
	const PAGE = 500;
	/** Comment meta Thrive Comments keeps about the comment's author. */
	const COMMENT_META = array( 'comment_author_picture', 'author_subscribed' );

	/**
	 * Hooks: registered first, so it runs before core's comment eraser blanks the emails it
	 * needs to find the comments' Thrive meta.
	 */
	public static function register() {
		add_filter( 'wp_privacy_personal_data_erasers', array( __CLASS__, 'register_eraser' ), 1 );
		add_filter( 'wp_privacy_personal_data_exporters', array( __CLASS__, 'register_exporter' ), 1 );
	}

	/**
	 * Whether any Thrive table or post type this class completes is on the site.
	 *
	 * @return bool
	 */
	public static function present() {
		return (bool) self::tables() || post_type_exists( 'tvo_testimonials' ) || defined( 'TVE_LEADS_VERSION' ) || class_exists( 'Thrive_Comments_Constants' );
	}

	/**
	 * Adds the eraser in front of the others.
	 *
	 * @param array $erasers Erasers.
	 * @return array
	 */
	public static function register_eraser( $erasers ) {
		if ( ! self::present() ) {
			return $erasers;
		}
		return array(
			self::ERASER_ID => array(
				'eraser_friendly_name' => __( 'Thrive data their own erasers miss (Privacy Sync)', 'wpprivsync' ),
				'callback'             => array( __CLASS__, 'erase' ),
			),
		) + (array) $erasers;
	}

	/**
	 * Adds the exporter.
	 *
	 * @param array $exporters Exporters.
	 * @return array
	 */
	public static function register_exporter( $exporters ) {
		if ( ! self::present() ) {
			return $exporters;
		}
		$exporters[ self::EXPORTER_ID ] = array(
			'exporter_friendly_name' => __( 'Thrive data their own exporters miss (Privacy Sync)', 'wpprivsync' ),
			'callback'               => array( __CLASS__, 'export' ),
		);
		return $exporters;
	}

	/**
	 * The Thrive tables on this site, by short name.
	 *
	 * @return array short name => full table name
	 */
	public static function tables() {
		global $wpdb;
		static $found = null;
		if ( null !== $found ) {
			return $found;
		}
		$found = array();
		$names = array( 'tcb_api_error_log', 'tcm_logs', 'tcm_email_hash', 'tvo_activity_log', 'tve_leads_contacts', 'tve_leads_event_log' );
		$like  = $wpdb->esc_like( $wpdb->prefix ) . '%';
		$have  = (array) $wpdb->get_col( $wpdb->prepare( 'SHOW TABLES LIKE %s', $like ) );
		foreach ( $names as $name ) {
			if ( in_array( $wpdb->prefix . $name, $have, true ) ) {
				$found[ $name ] = $wpdb->prefix . $name;
			}
		}
		return $found;
	}

	/**
	 * The eraser: one page removes up to PAGE rows per location.
	 *
	 * @param string $email Email.
	 * @param int    $page  Page (unused: each page works on what is left).
	 * @return array
	 */
	public static function erase( $email, $page = 1 ) {
		unset( $page );
		$email   = Wpprivsync_Plugin::normalise_email( $email );
		$counts  = array();
		$more    = false;
		$located = self::locate( $email, self::PAGE + 1 );
		foreach ( $located as $where => $items ) {
			$more = $more || count( $items ) > self::PAGE;
			$n    = 0;
			foreach ( array_slice( $items, 0, self::PAGE ) as $item ) {
				$n += self::remove( $where, $item, $email );
			}
			if ( $n > 0 ) {
				$counts[ $where ] = $n;
			}
		}
		$messages = array();
		foreach ( $counts as $where => $n ) {
			/* translators: 1: number of items, 2: where they were (a Thrive table or list). */
			$messages[] = sprintf( __( '%1$d item(s) removed from %2$s.', 'wpprivsync' ), $n, self::label( $where ) );
		}
		return array(
			'items_removed'  => (bool) $counts,
			'items_retained' => false,
			'messages'       => $messages,
			'done'           => ! $more,
		);
	}

	/**
	 * The exporter: what Thrive's own exporters leave out.
	 *
	 * @param string $email Email.
	 * @param int    $page  Page: PAGE items per location and page.
	 * @return array
	 */
	public static function export( $email, $page = 1 ) {
		$email = Wpprivsync_Plugin::normalise_email( $email );
		$data  = array();
		$more  = false;
		foreach ( self::locate( $email, self::PAGE + 1, self::PAGE * ( max( 1, (int) $page ) - 1 ) ) as $where => $items ) {
			$more = $more || count( $items ) > self::PAGE;
			foreach ( array_slice( $items, 0, self::PAGE ) as $item ) {
				if ( isset( $item['missed_by_thrive'] ) && ! $item['missed_by_thrive'] ) {
					continue; // Thrive's own exporter has it.
				}
				$data[] = array(
					'group_id'          => 'wpprivsync-thrive-' . $where,
					'group_label'       => self::label( $where ),
					'group_description' => __( 'Kept by a Thrive plugin and not in its own export.', 'wpprivsync' ),
					'item_id'           => $where . '-' . $item['key'],
					'data'              => self::export_fields( $item['fields'] ),
				);
			}
		}
		return array(
			'data' => $data,
			'done' => ! $more,
		);
	}

	/**
	 * Every place the email is found, by location: a list of array( key, fields, ... ). Thrive's
	 * tables use case-insensitive collations, so "=" matches any letter case and keeps the
	 * email indexes; serialized and JSON values are searched with LIKE and checked after decoding.
	 *
	 * @param string $email Normalised email.
	 * @param int    $limit  Most items per location.
	 * @param int    $offset Items skipped per location (export pages).
	 * @return array
	 */
	public static function locate( $email, $limit, $offset = 0 ) {
		global $wpdb;
		$tables = self::tables();
		$like   = '%' . $wpdb->esc_like( $email ) . '%';
		$found  = array();

		if ( isset( $tables['tcb_api_error_log'] ) ) {
			$rows = $wpdb->get_results( $wpdb->prepare( "SELECT id, date, connection, api_data FROM {$tables['tcb_api_error_log']} WHERE LOWER(api_data) LIKE %s ORDER BY id LIMIT %d OFFSET %d", $like, $limit, $offset ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from SHOW TABLES.
			foreach ( (array) $rows as $row ) {
				$data = maybe_unserialize( $row['api_data'] );
				if ( self::holds( $data, $email ) ) {
					$found['api_error_log'][] = array(
						'key'    => (int) $row['id'],
						'fields' => array_merge(
							array(
								'Date'       => $row['date'],
								'Connection' => $row['connection'],
							),
							self::flatten( $data )
						),
					);
				}
			}
		}
		foreach ( array(
			'tcm_logs'       => 'email',
			'tcm_email_hash' => 'email',
		) as $name => $column ) {
			if ( isset( $tables[ $name ] ) ) {
				$rows = $wpdb->get_results( $wpdb->prepare( "SELECT * FROM {$tables[ $name ]} WHERE {$column} = %s ORDER BY id LIMIT %d OFFSET %d", $email, $limit, $offset ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table and column are constants.
				foreach ( (array) $rows as $row ) {
					$found[ $name ][] = array(
						'key'    => (int) $row['id'],
						'fields' => array_diff_key( $row, array( 'id' => 1 ) ),
					);
				}
			}
		}
		$rows = $wpdb->get_results( $wpdb->prepare( "SELECT meta_id, post_id, meta_value FROM {$wpdb->postmeta} WHERE meta_key = 'tcm_post_subscribers' AND LOWER(meta_value) LIKE %s ORDER BY meta_id LIMIT %d OFFSET %d", $like, $limit, $offset ), ARRAY_A );
		foreach ( (array) $rows as $row ) {
			$list = maybe_unserialize( $row['meta_value'] );
			if ( is_array( $list ) && self::holds( $list, $email ) ) {
				$found['post_subscription'][] = array(
					'key'    => (int) $row['meta_id'],
					'post'   => (int) $row['post_id'],
					'fields' => array(
						'Post'       => get_the_title( (int) $row['post_id'] ),
						'Subscribed' => __( 'yes: notified of new comments', 'wpprivsync' ),
					),
				);
			}
		}
		$comment_ids = Wpprivsync_Privacy::comment_ids( $email );
		if ( $comment_ids ) {
			$in   = implode( ',', $comment_ids );
			$keys = "'" . implode( "','", self::COMMENT_META ) . "'";
			$rows = $wpdb->get_results( $wpdb->prepare( "SELECT meta_id, comment_id, meta_key, meta_value FROM {$wpdb->commentmeta} WHERE comment_id IN ({$in}) AND meta_key IN ({$keys}) ORDER BY meta_id LIMIT %d OFFSET %d", $limit, $offset ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- integers and constants.
			foreach ( (array) $rows as $row ) {
				$found['comment_meta'][] = array(
					'key'    => (int) $row['meta_id'],
					'fields' => array(
						'Comment' => (int) $row['comment_id'],
						'Key'     => $row['meta_key'],
						'Value'   => $row['meta_value'],
					),
				);
			}
		}
		$rows         = $wpdb->get_results( $wpdb->prepare( "SELECT m.post_id, m.meta_value, p.post_status, p.post_title, p.post_content, p.post_date FROM {$wpdb->postmeta} m JOIN {$wpdb->posts} p ON p.ID = m.post_id WHERE p.post_type = 'tvo_testimonials' AND m.meta_key = '_tvo_testimonial_attributes' AND LOWER(m.meta_value) LIKE %s ORDER BY m.post_id LIMIT %d OFFSET %d", $like, $limit, $offset ), ARRAY_A );
		$testimonials = array();
		foreach ( (array) $rows as $row ) {
			$meta = maybe_unserialize( $row['meta_value'] );
			if ( ! is_array( $meta ) || strtolower( (string) ( $meta['email'] ?? '' ) ) !== $email ) {
				continue;
			}
			$testimonials[]         = (int) $row['post_id'];
			$found['testimonial'][] = array(
				'key'              => (int) $row['post_id'],
				'missed_by_thrive' => 'publish' !== $row['post_status'] || (string) $meta['email'] !== $email,
				'picture'          => (string) ( $meta['picture_url'] ?? '' ),
				'fields'           => array(
					'Status'  => $row['post_status'],
					'Date'    => $row['post_date'],
					'Title'   => $row['post_title'],
					'Content' => $row['post_content'],
					'Name'    => (string) ( $meta['name'] ?? '' ),
					'Email'   => (string) $meta['email'],
					'Role'    => (string) ( $meta['role'] ?? '' ),
					'Website' => (string) ( $meta['website_url'] ?? '' ),
				),
			);
		}
		if ( isset( $tables['tvo_activity_log'] ) ) {
			$by_post = $testimonials ? ' OR post_id IN (' . implode( ',', $testimonials ) . ')' : '';
			$rows    = $wpdb->get_results( $wpdb->prepare( "SELECT id, post_id, date, activity_type, activity_data FROM {$tables['tvo_activity_log']} WHERE LOWER(activity_data) LIKE %s{$by_post} ORDER BY id LIMIT %d OFFSET %d", $like, $limit, $offset ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name and integers.
			foreach ( (array) $rows as $row ) {
				$found['ovation_activity'][] = array(
					'key'    => (int) $row['id'],
					'fields' => array(
						'Testimonial' => (int) $row['post_id'],
						'Date'        => $row['date'],
						'Activity'    => $row['activity_type'],
						'Data'        => (string) $row['activity_data'],
					),
				);
			}
		}
		if ( isset( $tables['tve_leads_contacts'] ) ) {
			$rows = $wpdb->get_results( $wpdb->prepare( "SELECT id, log_id, name, email, date FROM {$tables['tve_leads_contacts']} WHERE email = %s ORDER BY id LIMIT %d OFFSET %d", $email, $limit, $offset ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
			foreach ( (array) $rows as $row ) {
				$found['leads_contact'][] = array(
					'key'              => (int) $row['id'],
					// Thrive Leads' exporter lists only contacts linked to a sign-up event.
					'missed_by_thrive' => '' === (string) $row['log_id'] || '0' === (string) $row['log_id'],
					'fields'           => array_diff_key( $row, array( 'id' => 1 ) ),
				);
			}
		}
		if ( isset( $tables['tve_leads_event_log'] ) ) {
			$rows = $wpdb->get_results( $wpdb->prepare( "SELECT id, date, user, ip, referrer FROM {$tables['tve_leads_event_log']} WHERE user = %s ORDER BY id LIMIT %d OFFSET %d", $email, $limit, $offset ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
			foreach ( (array) $rows as $row ) {
				$found['leads_event'][] = array(
					'key'    => (int) $row['id'],
					'fields' => array_diff_key( $row, array( 'id' => 1 ) ),
				);
			}
		}
		return $found;
	}

	/**
	 * Removes one located item; returns 1 when something changed.
	 *
	 * @param string $where Location.
	 * @param array  $item  The item, from locate().
	 * @param string $email Normalised email.
	 * @return int
	 */
	private static function remove( $where, array $item, $email ) {
		global $wpdb;
		$tables = self::tables();
		$id     = (int) $item['key'];
		switch ( $where ) {
			case 'api_error_log':
				return (int) $wpdb->delete( $tables['tcb_api_error_log'], array( 'id' => $id ), array( '%d' ) );
			case 'tcm_logs':
			case 'tcm_email_hash':
			case 'ovation_activity':
			case 'leads_contact':
				$table = array(
					'tcm_logs'         => 'tcm_logs',
					'tcm_email_hash'   => 'tcm_email_hash',
					'ovation_activity' => 'tvo_activity_log',
					'leads_contact'    => 'tve_leads_contacts',
				)[ $where ];
				return (int) $wpdb->delete( $tables[ $table ], array( 'id' => $id ), array( '%d' ) );
			case 'leads_event':
				return (int) $wpdb->update(
					$tables['tve_leads_event_log'],
					array(
						'user'     => '',
						'ip'       => '',
						'referrer' => '',
					),
					array( 'id' => $id ),
					array( '%s', '%s', '%s' ),
					array( '%d' )
				);
			case 'post_subscription':
				$list = get_post_meta( $item['post'], 'tcm_post_subscribers', true );
				$kept = array_values(
					array_filter(
						(array) $list,
						static function ( $entry ) use ( $email ) {
							return strtolower( trim( (string) $entry ) ) !== $email;
						}
					)
				);
				update_post_meta( $item['post'], 'tcm_post_subscribers', $kept );
				return 1;
			case 'comment_meta':
				return (int) $wpdb->delete( $wpdb->commentmeta, array( 'meta_id' => $id ), array( '%d' ) );
			case 'testimonial':
				$picture = $item['picture'] ? attachment_url_to_postid( $item['picture'] ) : 0;
				if ( $picture ) {
					wp_delete_attachment( $picture, true );
				}
				return wp_delete_post( $id, true ) ? 1 : 0;
		}
		return 0;
	}

	/**
	 * What a location is called in messages and exports.
	 *
	 * @param string $where Location.
	 * @return string
	 */
	public static function label( $where ) {
		$labels = array(
			'api_error_log'     => __( 'Thrive Dashboard: failed email-service sign-ups', 'wpprivsync' ),
			'tcm_logs'          => __( 'Thrive Comments: activity log', 'wpprivsync' ),
			'tcm_email_hash'    => __( 'Thrive Comments: email hashes', 'wpprivsync' ),
			'post_subscription' => __( 'Thrive Comments: post comment subscriptions', 'wpprivsync' ),
			'comment_meta'      => __( 'Thrive Comments: comment author picture and notification flag', 'wpprivsync' ),
			'testimonial'       => __( 'Thrive Ovation: testimonials', 'wpprivsync' ),
			'ovation_activity'  => __( 'Thrive Ovation: activity log', 'wpprivsync' ),
			'leads_contact'     => __( 'Thrive Leads: contacts', 'wpprivsync' ),
			'leads_event'       => __( 'Thrive Leads: sign-up events (anonymised, kept as statistics)', 'wpprivsync' ),
		);
		return $labels[ $where ] ?? $where;
	}

	/**
	 * Whether a value (any depth) equals the email, ignoring case.
	 *
	 * @param mixed  $value Value.
	 * @param string $email Normalised email.
	 * @return bool
	 */
	private static function holds( $value, $email ) {
		if ( is_array( $value ) || is_object( $value ) ) {
			foreach ( (array) $value as $inner ) {
				if ( self::holds( $inner, $email ) ) {
					return true;
				}
			}
			return false;
		}
		return is_scalar( $value ) && strtolower( trim( (string) $value ) ) === $email;
	}

	/**
	 * A nested value as "a / b" => scalar pairs.
	 *
	 * @param mixed  $value  Value.
	 * @param string $prefix Key prefix.
	 * @return array
	 */
	private static function flatten( $value, $prefix = '' ) {
		$out = array();
		foreach ( (array) $value as $key => $inner ) {
			$name = '' === $prefix ? (string) $key : $prefix . ' / ' . $key;
			if ( is_array( $inner ) || is_object( $inner ) ) {
				$out = array_merge( $out, self::flatten( $inner, $name ) );
			} else {
				$out[ $name ] = (string) $inner;
			}
		}
		return $out;
	}

	/**
	 * Export fields in core's name/value shape.
	 *
	 * @param array $fields name => value.
	 * @return array
	 */
	private static function export_fields( array $fields ) {
		$out = array();
		foreach ( $fields as $name => $value ) {
			$out[] = array(
				'name'  => (string) $name,
				'value' => is_scalar( $value ) ? (string) $value : wp_json_encode( $value ),
			);
		}
		return $out;
	}
}
